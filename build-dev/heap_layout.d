build-dev/heap_layout.o: user/heap_layout.c user/dwarf_layout.h \
 user/heap_layout.h user/heap.h user/procmem.h user/resolve.h \
 user/layout.h
user/dwarf_layout.h:
user/heap_layout.h:
user/heap.h:
user/procmem.h:
user/resolve.h:
user/layout.h:
