build-dev/stack_layout.o: user/stack_layout.c user/stack_layout.h \
 bpf/gc.h
user/stack_layout.h:
bpf/gc.h:
