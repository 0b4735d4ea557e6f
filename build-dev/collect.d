build-dev/collect.o: user/collect.c user/collect.h bpf/gc.h
user/collect.h:
bpf/gc.h:
