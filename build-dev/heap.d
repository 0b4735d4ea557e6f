build-dev/heap.o: user/heap.c user/heap.h user/procmem.h
user/heap.h:
user/procmem.h:
