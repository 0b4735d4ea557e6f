build-dev/proctable.o: user/proctable.c user/proctable.h bpf/gc.h
user/proctable.h:
bpf/gc.h:
