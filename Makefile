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
CFLAGS    += $(UWARN) -MMD -MP -D_GNU_SOURCE $(addprefix -I,$(USER_DIRS)) -Ibpf -I$(OUT)
LDLIBS    := -lbpf -ldw -lelf -lz -lprotobuf-c
ifeq ($(SANITIZE),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=address,undefined
OUT       := build-san
endif
# BPF_PROG() declares ctx and every tracepoint argument, used or not
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-parameter -Ivmlinux -Ibpf

# the GC skeleton is three programs' files linked into one object: the
# collector's programs, the allocator growth programs, the process events
GC_PARTS  := $(OUT)/gc.bpf.o $(OUT)/growth.bpf.o $(OUT)/proc.bpf.o
SKELS     := $(OUT)/gc.skel.h $(OUT)/alloc.skel.h
# one directory per stage and per feature (README: Layout); every header is
# included by its bare name, every object named by its source's
USER_DIRS := user user/cli user/session user/procfs user/binary user/layout user/plan user/attach \
             user/collect user/feature user/feature/alloc user/feature/heap user/feature/stacks \
             user/present user/export
LIB_SRCS  := $(filter-out user/main.c,$(wildcard $(addsuffix /*.c,$(USER_DIRS))))
USER_HDRS := $(wildcard $(addsuffix /*.h,$(USER_DIRS)))
# --pprof: profile.proto's C, generated from the file Debian's pprof package installs
PPROF_PROTO := /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
LIB_OBJS  := $(patsubst %.c,$(OUT)/%.o,$(notdir $(LIB_SRCS))) $(OUT)/profile.pb-c.o
APP       := $(OUT)/mmtrace
UNIT      := $(OUT)/test_resolve $(OUT)/test_host $(OUT)/test_present
UNIT      += $(OUT)/test_pyoffsets $(OUT)/test_gcpoll

# libFuzzer targets for every parser of untrusted input, with ASan+UBSan
FUZZ_OUT     := build-fuzz
FUZZ_TARGETS := fuzz_elf fuzz_resolve fuzz_procfs fuzz_heap fuzz_stacks
FUZZ_TARGETS += fuzz_pyoffsets fuzz_gcpoll fuzz_insn
# every parser of untrusted input and what it needs; not the loader, the
# session engine or the option parser
ENGINE_SRCS  := $(addprefix user/session/,session.c probes.c rows.c events.c report.c) $(wildcard user/session/source_*.c)
FUZZ_SRCS    := $(filter-out user/attach/attach.c user/cli/options.c $(ENGINE_SRCS) \
                  $(wildcard user/feature/feature*.c user/feature/*/feature_*.c),$(LIB_SRCS)) $(OUT)/profile.pb-c.c
FUZZ_COMMON  := -g -O1 -fno-sanitize-recover=all $(WARN) -D_GNU_SOURCE $(addprefix -I,$(USER_DIRS)) -Ibpf -I$(OUT)
FUZZ_CFLAGS  := -fsanitize=fuzzer,address,undefined $(FUZZ_COMMON)
# the sources are compiled once for every target (instrumented, without
# libFuzzer's main), each target links them with its own entry point
FUZZ_OBJ_CFLAGS := -fsanitize=fuzzer-no-link,address,undefined $(FUZZ_COMMON)
FUZZ_OBJS    := $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(notdir $(FUZZ_SRCS)))
FUZZ_SECONDS ?= 60

.DELETE_ON_ERROR:
.PHONY: all deps demo test unit vmlinux install clean fixtures fuzz fuzz-build deb

all: $(APP)

$(OUT):
	mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h vmlinux/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/gc.linked.o: $(GC_PARTS)
	$(BPFTOOL) gen object $@ $^

$(OUT)/gc.skel.h: $(OUT)/gc.linked.o
	$(BPFTOOL) gen skeleton $< name gc_bpf > $@

$(OUT)/alloc.skel.h: $(OUT)/alloc.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

vpath %.c $(USER_DIRS)

$(OUT)/%.o: %.c | $(OUT)
	$(CC) $(CFLAGS) -c $< -o $@

# user space includes the skeleton
$(OUT)/attach.o: $(SKELS)

$(OUT)/profile.pb-c.c $(OUT)/profile.pb-c.h &: $(PPROF_PROTO) | $(OUT)
	protoc-c --c_out=$(OUT) -I$(dir $(PPROF_PROTO)) $(PPROF_PROTO)

$(OUT)/profile.pb-c.o: $(OUT)/profile.pb-c.c
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/pprof.o: $(OUT)/profile.pb-c.h

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

# the builds before the tests use every core (a plain `make test` is serial)
TEST_JOBS ?= $(shell nproc)

test: deps
	$(MAKE) -j$(TEST_JOBS) all $(UNIT) fixtures
	$(MAKE) -j$(TEST_JOBS) SANITIZE=1 build-san/test_resolve build-san/test_host build-san/test_present \
		build-san/test_pyoffsets build-san/test_gcpoll build-san/mmtrace
	$(MAKE) -j$(TEST_JOBS) fuzz-build
	tests/run.sh $(OUT)

.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_OUT)/obj/%.o: %.c $(USER_HDRS) bpf/*.h $(OUT)/profile.pb-c.h
	mkdir -p $(@D)
	$(CLANG) $(FUZZ_OBJ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/obj/profile.pb-c.o: $(OUT)/profile.pb-c.c $(OUT)/profile.pb-c.h
	mkdir -p $(@D)
	$(CLANG) $(FUZZ_OBJ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/%: tests/fuzz/%.c $(FUZZ_OBJS) $(USER_HDRS) bpf/*.h
	mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_OBJS) -lbpf -ldw -lelf -lz -lprotobuf-c -o $@

$(FUZZ_OUT)/seeds/.done: tools/fuzz-seeds.sh | fixtures
	rm -rf $(@D)
	tools/fuzz-seeds.sh $(abspath $(OUT))/fixtures $(@D)
	touch $@

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_OUT)/%) $(FUZZ_OUT)/seeds/.done

# make fuzz [FUZZ_SECONDS=N]: each target for N seconds; new inputs go to
# build-fuzz/corpus, crashes to build-fuzz/crash-* (copy them to
# tests/fuzz/regressions/TARGET/ once fixed)
fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_OUT)/corpus/$$t tests/fuzz/regressions/$$t; \
		$(FUZZ_OUT)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/crash-$$t- $(FUZZ_OUT)/corpus/$$t \
			$(FUZZ_OUT)/seeds/$$t tests/fuzz/regressions/$$t || exit 1; \
	done

# the service: under /usr, systemd's own unit directory and /etc; under any
# other PREFIX, both inside it (systemd reads /usr/local/lib/systemd/system)
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSCONFDIR     ?= /etc
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR     ?= $(PREFIX)/etc
endif

install: $(APP)
	install -D -m 0755 $(APP) $(DESTDIR)$(PREFIX)/sbin/mmtrace
	install -D -m 0644 man/mmtrace.8 $(DESTDIR)$(PREFIX)/share/man/man8/mmtrace.8
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' packaging/mmtrace.service.in \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/mmtrace.service
	install -D -m 0644 packaging/mmtrace.default $(DESTDIR)$(SYSCONFDIR)/default/mmtrace

# make deb: build/mmtrace_VERSION_ARCH.deb with dpkg-buildpackage, from a
# copy of the tracked files in build/deb-src (it writes into the parent)
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_ARCH    = $(shell dpkg-architecture -q DEB_HOST_ARCH)
DEB          = $(OUT)/mmtrace_$(DEB_VERSION)_$(DEB_ARCH).deb

deb:
	rm -rf $(OUT)/deb-src && mkdir -p $(OUT)/deb-src/mmtrace
	git ls-files -z | xargs -0 cp --parents -P -t $(OUT)/deb-src/mmtrace
	cd $(OUT)/deb-src/mmtrace && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || { tail -30 ../build.log; exit 1; }
	cp $(OUT)/deb-src/mmtrace*_$(DEB_VERSION)_$(DEB_ARCH).* $(OUT)/
	@echo $(DEB)

clean:
	rm -rf build build-san build-fuzz

-include $(wildcard $(OUT)/*.d)
