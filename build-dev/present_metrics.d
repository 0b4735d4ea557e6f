build-dev/present_metrics.o: user/present_metrics.c user/collect.h \
 bpf/gc.h user/export.h user/present.h user/collect_exact.h bpf/alloc.h \
 bpf/gc.h user/proctable.h user/plan.h user/resolve.h
user/collect.h:
bpf/gc.h:
user/export.h:
user/present.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
user/proctable.h:
user/plan.h:
user/resolve.h:
