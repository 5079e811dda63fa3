/* Prints a greeting and /etc/motd: the program of the bench's multi-stage build.
 * The build_hello-multistage_edit row rewrites the EDITION line before every build. */
#include <stdio.h>

#define EDITION "0"

int main(void)
{
    char line[256];
    FILE *motd = fopen("/etc/motd", "r");

    printf("hello from a static binary, edition %s\n", EDITION);
    if (motd != NULL) {
        while (fgets(line, sizeof line, motd) != NULL)
            fputs(line, stdout);
        fclose(motd);
    }
    return 0;
}
