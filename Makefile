# mmtrace: eBPF observer of CPython memory management.
# make            build build/mmtrace
# make demo       install what is missing, build, run on a bundled workload
# make test       install what is missing, build, run every test
# make vmlinux    regenerate vmlinux/vmlinux.h from the running kernel's BTF
# make SANITIZE=1 build user space with ASan and UBSan

OUT       ?= build
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
PREFIX    ?= /usr/local
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

# snprintf truncating an over-long path in a message is intended, not a bug
WARN      := -Wall -Wextra -Werror
UWARN     := $(WARN) -Wno-format-truncation
CFLAGS    ?= -g -O2
CFLAGS    += $(UWARN) -MMD -MP -D_GNU_SOURCE -Iuser -Ibpf -I$(OUT)
LDLIBS    := -lbpf -lelf -lz
ifeq ($(SANITIZE),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=address,undefined
OUT       := build-san
endif
# BPF_PROG() declares ctx and every tracepoint argument, used or not
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-parameter -Ivmlinux -Ibpf

BPF_OBJS  := $(OUT)/gc.bpf.o
SKELS     := $(OUT)/gc.skel.h
LIB_SRCS  := user/elf_file.c user/resolve.c user/layout.c user/plan.c user/discover.c \
             user/attach.c user/collect.c user/present.c user/present_host.c user/present_json.c \
             user/json.c user/options.c user/parse.c user/registry.c user/proctable.c user/discover_host.c user/host.c
LIB_OBJS  := $(LIB_SRCS:user/%.c=$(OUT)/%.o)
APP       := $(OUT)/mmtrace
UNIT      := $(OUT)/test_resolve $(OUT)/test_host

.DELETE_ON_ERROR:
.PHONY: all deps demo test unit vmlinux install clean fixtures

all: $(APP)

$(OUT):
	mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h vmlinux/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUT)/%.o: user/%.c | $(OUT)
	$(CC) $(CFLAGS) -c $< -o $@

# user space includes the skeleton
$(OUT)/attach.o: $(SKELS)

$(APP): $(OUT)/main.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) $(filter %.o,$^) $(LDLIBS) -o $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

deps:
	tools/install-deps.sh

$(OUT)/test_%: tests/unit/test_%.c $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

fixtures: | $(OUT)
	$(MAKE) -C tests/fixtures OUT=$(abspath $(OUT))/fixtures

unit: $(UNIT) fixtures
	for t in $(UNIT); do MMTRACE_FIXTURES=$(abspath $(OUT))/fixtures $$t || exit 1; done

demo: deps
	$(MAKE) all
	tools/demo.sh $(APP)

test: deps
	$(MAKE) all $(UNIT) fixtures
	$(MAKE) SANITIZE=1 build-san/test_resolve build-san/test_host build-san/mmtrace
	tests/run.sh $(OUT)

install: $(APP)
	install -D -m 0755 $(APP) $(DESTDIR)$(PREFIX)/sbin/mmtrace

clean:
	rm -rf build build-san

-include $(wildcard $(OUT)/*.d)
