build-dev/stacks.o: user/stacks.c user/stacks.h bpf/gc.h user/symbolize.h \
 user/procmem.h user/resolve.h user/stack_layout.h
user/stacks.h:
bpf/gc.h:
user/symbolize.h:
user/procmem.h:
user/resolve.h:
user/stack_layout.h:
