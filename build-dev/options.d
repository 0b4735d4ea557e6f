build-dev/options.o: user/options.c user/exitcodes.h user/options.h \
 user/present.h user/collect_exact.h bpf/alloc.h bpf/gc.h bpf/gc.h \
 user/proctable.h user/plan.h user/resolve.h user/parse.h
user/exitcodes.h:
user/options.h:
user/present.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
bpf/gc.h:
user/proctable.h:
user/plan.h:
user/resolve.h:
user/parse.h:
