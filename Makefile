# fnbox — build, run, test, bench.
# `make` builds build/fnboxd and build/fnbox. `make run` and `make test` first install any
# missing Debian package (scripts/deps.sh).

CC      ?= cc
PYTHON  ?= /usr/bin/python3
BUILD   := build
DUK_SRC := /usr/share/duktape

LIBS_D  := libseccomp libmicrohttpd sqlite3 libcrypto jansson libcap libcurl
LIBS_C  := libcurl jansson libcrypto

WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wno-unused-parameter
HARDEN  := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O2 -pthread $(HARDEN) -I. -I$(BUILD)/duk
CFLAGS_D = $(BASE_CFLAGS) $(WARN) $(shell pkg-config --cflags $(LIBS_D))
LDFLAGS := -pie -Wl,-z,now -Wl,-z,relro -pthread
LDLIBS_D = $(shell pkg-config --libs $(LIBS_D)) -lm
LDLIBS_G = $(shell pkg-config --libs $(filter-out libseccomp,$(LIBS_D))) # fnboxd: no seccomp
LDLIBS_C = $(shell pkg-config --libs $(LIBS_C))

# Module sources (no main()): the daemon's main lives in gateway/main.c, the zygote's in
# sandbox/zygote_exe.c. Unit tests link them all.
MOD_SRC := $(wildcard common/*.c runtime/*.c secrets/*.c attestation/*.c) \
           $(filter-out sandbox/zygote_exe.c,$(wildcard sandbox/*.c)) \
           $(filter-out gateway/main.c,$(wildcard gateway/*.c))
# fnboxd: the gateway; it never runs JavaScript, so no Duktape and no worker runtime.
GW_SRC  := $(filter-out runtime/% sandbox/zygote.c sandbox/fn_zygote.c sandbox/confine.c \
                        sandbox/seccomp_policy.c,$(MOD_SRC))
# fnbox-zygote: what workers need and nothing else, linked statically (libc aside) so that
# each fork copies a handful of mappings instead of fnboxd's two hundred.
ZYG_SRC := $(wildcard common/*.c runtime/*.c) sandbox/zygote.c sandbox/fn_zygote.c sandbox/zygote_msg.c \
           sandbox/confine.c sandbox/seccomp_policy.c sandbox/zygote_exe.c
LDLIBS_Z := -Wl,-Bstatic -lseccomp -ljansson -lcrypto -Wl,-Bdynamic -lm
# the CLI verifies reports and receipts with the same code that defines their formats
CLI_SRC := $(wildcard cli/*.c) attestation/evidence.c attestation/receipt.c attestation/ecsig.c \
           attestation/keccak.c attestation/quote.c

OBJ     := $(MOD_SRC:%.c=$(BUILD)/obj/%.o)
OBJ_T   := $(MOD_SRC:%.c=$(BUILD)/obj-testhooks/%.o)
OBJ_A   := $(MOD_SRC:%.c=$(BUILD)/obj-asan/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)

.PHONY: all deps run test unit integration bench format clean
.SECONDARY: # keep the ASan objects between runs (they are intermediates of the unit tests)
all: $(BUILD)/fnboxd $(BUILD)/fnbox $(BUILD)/fnbox-zygote $(BUILD)/fnboxd-testhooks \
     $(BUILD)/fnbox-zygote-testhooks

deps:
	@scripts/deps.sh

# Duktape is compiled from the package's amalgamated source with our configuration
# (runtime/duk_overrides.h): static, per-worker Math.random seed, dense string hashing,
# no bytecode dump/load, no errCreate/errThrow hooks, no CBOR.
$(BUILD)/duk/duk_config.h: $(DUK_SRC)/duk_config.h runtime/duk_overrides.h
	@mkdir -p $(@D)
	@sed 's|/\* __OVERRIDE_DEFINES__ \*/|#include "runtime/duk_overrides.h"|' $< > $@.tmp
	@grep -q 'runtime/duk_overrides.h' $@.tmp
	@mv $@.tmp $@
$(BUILD)/duk/duktape.h: $(DUK_SRC)/duktape.h
	@mkdir -p $(@D); cp $< $@
# The source is copied next to our duk_config.h: a quoted #include looks in the including
# file's own folder first, which would otherwise pick the package's configuration.
$(BUILD)/duk/duktape.c: $(DUK_SRC)/duktape.c
	@mkdir -p $(@D); cp $< $@
$(BUILD)/duk/duktape.o: $(BUILD)/duk/duktape.c $(BUILD)/duk/duk_config.h $(BUILD)/duk/duktape.h
	@echo "  CC      duktape.c (our configuration)"
	@$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -fPIE -I. -I$(BUILD)/duk -c $< -o $@
	@nm $@ | grep -q fnbox_js_random_double # our configuration is the one compiled in

$(BUILD)/obj/%.o: %.c $(BUILD)/duk/duktape.h $(BUILD)/duk/duk_config.h
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_D) -MMD -MP -c $< -o $@
# Test hooks (a way to provoke a forbidden syscall) exist only in this build.
$(BUILD)/obj-testhooks/%.o: %.c $(BUILD)/duk/duktape.h $(BUILD)/duk/duk_config.h
	@mkdir -p $(@D)
	@echo "  CC [testhooks] $<"
	@$(CC) $(CFLAGS_D) -DFNBOX_TEST_HOOKS -MMD -MP -c $< -o $@
$(BUILD)/obj-asan/%.o: %.c $(BUILD)/duk/duktape.h $(BUILD)/duk/duk_config.h
	@mkdir -p $(@D)
	@echo "  CC [asan] $<"
	@$(CC) $(CFLAGS_D) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -MMD -MP -c $< -o $@

$(BUILD)/fnboxd: $(BUILD)/obj/gateway/main.o $(GW_SRC:%.c=$(BUILD)/obj/%.o)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_G)
$(BUILD)/fnboxd-testhooks: $(BUILD)/obj-testhooks/gateway/main.o $(GW_SRC:%.c=$(BUILD)/obj-testhooks/%.o)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_G)
$(BUILD)/fnbox-zygote: $(ZYG_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/duk/duktape.o
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_Z)
$(BUILD)/fnbox-zygote-testhooks: $(ZYG_SRC:%.c=$(BUILD)/obj-testhooks/%.o) $(BUILD)/duk/duktape.o
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_Z)
$(BUILD)/fnbox: $(CLI_SRC) $(wildcard cli/*.h attestation/*.h)
	@mkdir -p $(@D)
	@echo "  CC+LD   $@"
	@$(CC) $(BASE_CFLAGS) $(WARN) $(shell pkg-config --cflags $(LIBS_C)) $(LDFLAGS) -o $@ $(CLI_SRC) $(LDLIBS_C)

# Unit tests: cmocka, every module built with AddressSanitizer + UBSan.
$(BUILD)/unit/%: tests/unit/%.c $(OBJ_A) $(BUILD)/duk/duktape.o
	@mkdir -p $(@D)
	@echo "  CC+LD [asan] $@"
	@$(CC) $(CFLAGS_D) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer $(LDFLAGS) \
	    -o $@ $^ $(LDLIBS_D) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  timeout 300 $$t; done

integration: all
	cd tests/integration && FNBOX_BUILD=$(CURDIR)/$(BUILD) $(PYTHON) -m pytest -q -ra

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

run: deps
	$(MAKE) all
	@scripts/run.sh

# bench/run.sh measures fnbox alone; bench/ab.sh what namespaces and function zygotes cost
# (BENCH_AB=0 skips it); bench/peers.sh then runs fnbox side by side with workerd, Deno and
# Node (installed from npm into bench/.peers/). BENCH_PEERS=0 skips the peers.
bench: deps
	$(MAKE) all
	@bench/run.sh
	@if [ "$${BENCH_AB:-1}" != 0 ]; then bench/ab.sh; fi
	@if [ "$${BENCH_PEERS:-1}" != 0 ]; then bench/peers.sh; fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
