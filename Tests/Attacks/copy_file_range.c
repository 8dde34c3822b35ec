// attack: destroy: copy_file_range() from a file of its own into a canary file
// stopped by: sign-off(write)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    int src = open("zeros", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char zeros[4096] = {0};
    write(src, zeros, sizeof zeros);
    int dst = report("open(protected/notes.txt, O_WRONLY)", open(canary("notes.txt"), O_WRONLY));
    if (dst < 0) dst = report("open(protected/notes.txt, O_RDONLY)", open(canary("notes.txt"), O_RDONLY));
    loff_t in = 0, out = 0;
    report("copy_file_range(zeros -> protected/notes.txt)", copy_file_range(src, &in, dst, &out, sizeof zeros, 0));
    return 0;
}
