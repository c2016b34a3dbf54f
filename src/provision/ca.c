/* provision_ca: the CA step's shared pieces: fingerprints, composed bundles, checking what the
 * bottle reports. */
#include "provision/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/util.h"

char *provision_ca_fingerprint(const char *path, char **err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *err = xasprintf("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        *err = xasprintf("%s holds no PEM certificate", path);
        return NULL;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    if (!ok) {
        *err = xstrdup("SHA-256 digest failed");
        return NULL;
    }
    char *out = xmalloc(n * 3 + 1);
    for (unsigned i = 0; i < n; i++)
        sprintf(out + i * 3, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return out;
}

static int copy_fd(int in, int out)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            off += w;
        }
    }
    return n < 0 ? -errno : 0;
}

int provision_ca_compose_bundle(const char *system_bundle, const char *ca_pem, const char *out)
{
    char *tmp = xasprintf("%s.tmp", out);
    int rc = 0;
    int o = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o < 0) {
        rc = -errno;
        goto done;
    }
    const char *parts[] = {system_bundle, ca_pem};
    for (int i = 0; i < 2 && rc == 0; i++) {
        int in = open(parts[i], O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            rc = -errno;
            break;
        }
        rc = copy_fd(in, o);
        close(in);
        if (rc == 0 && write(o, "\n", 1) != 1)
            rc = -EIO;
    }
    if (close(o) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, out) != 0)
        rc = -errno;
done:
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

const char *provision_ca_system_bundle(void)
{
    static const char *const candidates[] = {"/etc/ssl/certs/ca-certificates.crt",
                                             "/etc/pki/tls/certs/ca-bundle.crt",
                                             "/etc/ssl/cert.pem"};
    for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return candidates[0];
}

char *provision_ca_parse_fingerprint(const char *text)
{
    const char *p = strstr(text, "Fingerprint=");
    if (!p)
        return NULL;
    p += strlen("Fingerprint=");
    size_t n = strspn(p, "0123456789ABCDEFabcdef:");
    if (n != 95) /* 32 bytes: 64 hex digits and 31 colons */
        return NULL;
    char *fp = xstrndup(p, n);
    for (char *c = fp; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    return fp;
}

bool provision_ca_one_added(const char *output)
{
    /* Debian prints "1 added, 0 removed; done." */
    const char *p = strstr(output, " added, ");
    if (!p)
        return false;
    const char *s = p;
    while (s > output && s[-1] >= '0' && s[-1] <= '9')
        s--;
    return p - s == 1 && *s == '1';
}

char *provision_ca_verdict(const char *out, int update_status, int fp_status,
                           const char *fingerprint, const char *hop, const char *where, bool *ok)
{
    *ok = false;
    if (update_status != 0 && !strstr(out, " added, "))
        return xasprintf("update-ca-certificates did not run in the %s (is it installed in the "
                         "image?); see the output above",
                         where);
    if (!provision_ca_one_added(out))
        return xstrdup("update-ca-certificates did not report '1 added': the agent's trust "
                       "store does not have the CA");
    char *inside = provision_ca_parse_fingerprint(out);
    char *d;
    if (fp_status != 0 || !inside || strcmp(inside, fingerprint) != 0) {
        d = xasprintf("the CA fingerprint in the %s (%s) differs from the host's (%s)", where,
                      inside ? inside : "none", fingerprint);
    } else {
        d = xasprintf("%s CA installed (1 added); SHA-256 %s (checked inside)", hop, fingerprint);
        *ok = true;
    }
    free(inside);
    return d;
}
