build-dev/present.o: user/present.c user/collect.h bpf/gc.h \
 user/present.h user/collect_exact.h bpf/alloc.h bpf/gc.h \
 user/proctable.h user/plan.h user/resolve.h
user/collect.h:
bpf/gc.h:
user/present.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
user/proctable.h:
user/plan.h:
user/resolve.h:
