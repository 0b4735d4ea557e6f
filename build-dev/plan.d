build-dev/plan.o: user/plan.c user/layout.h user/plan.h bpf/gc.h \
 user/resolve.h user/stack_layout.h
user/layout.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
user/stack_layout.h:
