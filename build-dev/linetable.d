build-dev/linetable.o: user/linetable.c user/linetable.h \
 user/stack_layout.h bpf/gc.h
user/linetable.h:
user/stack_layout.h:
bpf/gc.h:
