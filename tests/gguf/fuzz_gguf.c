/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader and chord inspect
 * (built with -DCHORD_FUZZ=ON under clang: ./gguf_fuzz CORPUS_DIR).
 *
 * Each input becomes a memfd, so the reader sees a real file with a size
 * and reads it with pread exactly as it reads a model. Whatever the bytes,
 * gguf_open must return cleanly; files it accepts are also described by
 * chord_inspect, which must not trip over anything the reader let through.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf/gguf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        return 0;
    int fd = memfd_create("gguf-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, n) == (ssize_t)n) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        gguf_file *f;
        chord_err err;
        if (gguf_open(path, &f, &err) == CHORD_OK) {
            gguf_close(f);
            chord_inspect(path, devnull, &err);
        }
    }
    close(fd);
    return 0;
}
