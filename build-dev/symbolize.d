build-dev/symbolize.o: user/symbolize.c user/discover.h user/plan.h \
 bpf/gc.h user/resolve.h user/heap_layout.h user/heap.h user/procmem.h \
 user/linetable.h user/stack_layout.h user/symbolize.h
user/discover.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
user/heap_layout.h:
user/heap.h:
user/procmem.h:
user/linetable.h:
user/stack_layout.h:
user/symbolize.h:
