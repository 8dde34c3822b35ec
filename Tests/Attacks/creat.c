// attack: destroy: creat() over canary files: the raw creat syscall, and glibc's creat()
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("syscall(SYS_creat, protected/notes.txt)", syscall(SYS_creat, canary("notes.txt"), 0644));
    report("creat(protected/script.sh)", creat(canary("script.sh"), 0644));
    return 0;
}
