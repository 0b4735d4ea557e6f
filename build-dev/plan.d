build-dev/plan.o: user/plan.c user/layout.h user/plan.h bpf/gc.h \
 user/resolve.h
user/layout.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
