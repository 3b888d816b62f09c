/* FASTA/A2M alignments (src/data/alignment_fasta.c, alignment.c); the checks are in aln.h. */
#include "aln.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_alignment_one(data, size, "family.a2m");
}
