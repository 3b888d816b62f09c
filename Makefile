# dgm — build, test, bench.  `make`, `make test`, `make BLAS=none`, `make MPI=1`, `make asan`, `make bench`.
# Sources are discovered by folder, so a new file under src/, cli/, tests/ or bench/ needs
# no edit here.

BUILD   ?= build
BLAS    ?= openblas
PREFIX  ?= /usr/local
CC      ?= cc
# The library's version. Its first number is the ABI: libdgm.so.1.0.0 has the SONAME
# libdgm.so.1, and a change that breaks callers built against it bumps that number
# (docs/design.md, "Public API"). DGM_VERSION in include/dgm.h says the same.
VERSION := 1.0.0
SONAME  := libdgm.so.$(firstword $(subst ., ,$(VERSION)))

CFLAGS  ?= -O2 -march=native -g
# -fno-math-errno lets sqrtf and friends vectorise: Adam's loop was scalar for its sqrtf
# (19 ms -> 3.6 ms for 9.2M parameters). IEEE semantics (NaN, Inf) are unchanged, and
# nothing in dgm reads errno after a math function.
# -fno-trapping-math lets GCC turn the likelihood loops' selects (x > 0 ? x : 0, the end
# bins of the discretised logistic) into vector blends at -O2: without it the `omp simd`
# loops of the Bernoulli and logistic likelihoods stayed scalar ("control flow in loop").
# dgm never enables floating-point traps, and results keep IEEE values (NaN, Inf).
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -fno-math-errno -fno-trapping-math -fopenmp -fPIC -Iinclude -Isrc -MMD -MP
override LDLIBS += -lcjson -lpng -lz -llbfgs -lm -fopenmp
# cairo draws the figures (src/io/plot.c): Debian's libcairo2-dev.
override CFLAGS += $(shell pkg-config --cflags cairo)
override LDLIBS += $(shell pkg-config --libs cairo)

# OpenBLAS's OpenMP build shares one thread pool with dgm's own OpenMP regions; the
# default pthread build beside busy-waiting OpenMP threads oversubscribes small machines
# (measured: 2.8x slower VAE training on 2 cores).
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
ifeq ($(BLAS),none)
  override CFLAGS += -DDGM_NO_BLAS
else
  override CFLAGS += -I/usr/include/x86_64-linux-gnu/openblas-openmp
  override LDLIBS += -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas
endif
# oneDNN (Debian's libdnnl-dev) gives the optional bf16 products of src/tensor/gemm_bf16.c
# (`dgm eval --precision bf16`); found by its header, left out with DNNL=0.
DNNL ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(DNNL),1)
  override CFLAGS += -DDGM_HAVE_DNNL
  override LDLIBS += -ldnnl
endif
# MPI=1: data-parallel runs under mpirun (src/par/comm.c), compiled and linked by mpicc
# (Open MPI: Debian's libopenmpi-dev and openmpi-bin). Without it dgm is one process.
ifeq ($(MPI),1)
  CC := mpicc
  override CFLAGS += -DDGM_MPI
endif
ifeq ($(SAN),1)
  override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  override LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC   := $(sort $(shell find src -name '*.c'))
CLI_SRC   := $(sort $(wildcard cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib cli tests benches test bench asan install clean demo man fuzz fuzz-bins fuzz-run
all: lib cli tests benches
lib: $(BUILD)/libdgm.a $(BUILD)/libdgm.so.$(VERSION) $(BUILD)/$(SONAME) $(BUILD)/libdgm.so
cli: $(BUILD)/dgm
tests: $(TEST_BIN)
benches: $(BENCH_BIN)

# Objects depend on this file too: a flag changed here (-fvisibility=hidden, say) rebuilds them.
$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Library objects hide every symbol that the headers do not mark DGM_API, so libdgm.so
# exports the public API and nothing else. The CLI, tests and benchmarks link libdgm.a,
# where hidden symbols still link, and may call dgm__ internals.
$(LIB_OBJ): override CFLAGS += -fvisibility=hidden

$(BUILD)/libdgm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shared library and its two links: libdgm.so.0 (the SONAME, what programs load) and
# libdgm.so (what -ldgm finds when linking).
$(BUILD)/libdgm.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/$(SONAME): $(BUILD)/libdgm.so.$(VERSION)
	ln -sf libdgm.so.$(VERSION) $@

$(BUILD)/libdgm.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/dgm: $(CLI_OBJ) $(BUILD)/libdgm.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libdgm.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/libdgm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libdgm.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libdgm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdgm.a $(LDLIBS)

# Man pages: dgm(1) and dgm-CMD(1) for each command, generated from the --help text by
# help2man (Debian's help2man), so that they say what the program does. help2man runs
# `PROG --help` and `PROG --version`; each command gets a two-line wrapper for that.
MAN_CMDS := train sample eval loglik kl classify mutations encode reconstruct interpolate info report assess couplings
# dgm train has one option table per model family: the protein and tractable trainers get
# pages of their own (dgm-train-protein, dgm-train-tractable).
MAN_ARGS_train-protein   := train --model seqvae
MAN_ARGS_train-tractable := train --model gmm
MAN_DESC_train-protein   := fit a protein-family model (sequence VAE or site-independent)
MAN_DESC_train-tractable := fit a tractable baseline (Gaussian, GMM, Bernoulli mixtures) by EM
man: $(BUILD)/man/dgm.1 $(MAN_CMDS:%=$(BUILD)/man/dgm-%.1) $(BUILD)/man/dgm-train-protein.1 \
     $(BUILD)/man/dgm-train-tractable.1

$(BUILD)/man/dgm.1: $(BUILD)/dgm
	@mkdir -p $(dir $@)
	@{ echo '[SEE ALSO]'; for c in $(MAN_CMDS) train-protein train-tractable; do \
	    echo ".BR dgm-$$c (1),"; done; } > $(BUILD)/man/see-also.h2m
	help2man -N --version-string=$(VERSION) -n "deep generative models: train, sample, evaluate, compare" \
	    --include=$(BUILD)/man/see-also.h2m -o $@ $(BUILD)/dgm

$(BUILD)/man/dgm-%.1: $(BUILD)/dgm
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\n[ "$$1" = --version ] && { echo "dgm-$* $(VERSION)"; exit 0; }\nexec "%s" %s "$$@"\n' \
	    "$(abspath $(BUILD)/dgm)" "$(or $(MAN_ARGS_$*),$*)" > $(BUILD)/man/dgm-$*
	@chmod +x $(BUILD)/man/dgm-$*
	help2man -N --version-string=$(VERSION) -o $@ $(BUILD)/man/dgm-$* -n "$(or $(MAN_DESC_$*),$$($(BUILD)/dgm --help | awk '$$1 == "$*" { $$1 = ""; print substr($$0, 2) }'))"
	@rm -f $(BUILD)/man/dgm-$*

# `make test` installs what the tests need when run as root on Debian (see README), builds,
# then runs every test binary and the CLI tests; the last line is "N passed, N failed".
test:
	@sh tests/deps.sh
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh $(BUILD)

# The main job (README): train the reference VAE, evaluate, write samples and figures.
demo:
	@sh tests/deps.sh
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh scripts/demo.sh out

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 CFLAGS="-O1 -g" all

bench:
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh $(BUILD)

# libFuzzer harnesses (fuzz/README.md): clang with -fsanitize=fuzzer,address,undefined,
# the library instrumented (fuzzer-no-link) in its own folder, build-fuzz/, with the plain-C
# matrix product and no oneDNN. `make fuzz-run` runs each harness FUZZ_SECONDS over its
# corpus and fails on any crash, leak or sanitizer report (CI runs it).
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
# (-Wno-pass-failed: clang at -O1 under the sanitizers cannot vectorise some `omp simd` loops
# and says so; a note about the optimizer, not the code)
FUZZ_FLAGS   := -O1 -g -Wno-pass-failed -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_BIN     := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(sort $(wildcard fuzz/fuzz_*.c)))
fuzz:
	@sh tests/deps.sh clang libclang-rt-14-dev libomp-14-dev
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) BLAS=none DNNL=0 CFLAGS="$(FUZZ_FLAGS)" fuzz-bins
fuzz-bins: $(FUZZ_BIN)
$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h fuzz/aln.h $(BUILD)/libdgm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(BUILD)/libdgm.a $(LDLIBS)
fuzz-run: fuzz
	@sh fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

install: lib cli man
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(BUILD)/libdgm.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libdgm.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libdgm.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libdgm.so
	install -m 644 include/dgm.h include/dgm_blocks.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/dgm $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LDLIBS)|' dgm.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/dgm.pc

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
