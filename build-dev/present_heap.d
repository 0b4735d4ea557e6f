build-dev/present_heap.o: user/present_heap.c user/json.h \
 user/present_heap.h user/heap.h user/procmem.h user/resolve.h
user/json.h:
user/present_heap.h:
user/heap.h:
user/procmem.h:
user/resolve.h:
