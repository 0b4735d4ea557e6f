build-dev/procmem.o: user/procmem.c user/parse.h user/procmem.h
user/parse.h:
user/procmem.h:
