build-dev/dwarf_layout.o: user/dwarf_layout.c user/dwarf_layout.h
user/dwarf_layout.h:
