/* bottle-proxy: one proxy hop per process (egress or pipelock); placeholder until the engine lands. */
#include <stdio.h>
int main(void)
{
    fputs("bottle-proxy: not built yet\n", stderr);
    return 2;
}
