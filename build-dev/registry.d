build-dev/registry.o: user/registry.c user/registry.h user/discover.h \
 user/plan.h bpf/gc.h user/resolve.h
user/registry.h:
user/discover.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
