build-dev/layout.o: user/layout.c user/layout.h
user/layout.h:
