build-dev/collect_exact.o: user/collect_exact.c user/collect_exact.h \
 bpf/alloc.h bpf/gc.h
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
