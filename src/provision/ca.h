/* provision_ca: the CA step's shared pieces: fingerprints, composed bundles, checking what the
 * bottle reports. */
#ifndef BOTTLE_PROVISION_CA_H
#define BOTTLE_PROVISION_CA_H

#include <stdbool.h>

/* The SHA-256 fingerprint of the first certificate in PEM file PATH, as
 * "AB:CD:...". Returns a new string or NULL (with *ERR, a new string). */
char *provision_ca_fingerprint(const char *path, char **err);
/* Write SYSTEM_BUNDLE followed by CA_PEM into OUT (mode 0644). 0 or -errno. */
int provision_ca_compose_bundle(const char *system_bundle, const char *ca_pem, const char *out);
/* The system bundle this host uses (Debian's path, else OpenSSL's default). */
const char *provision_ca_system_bundle(void);
/* Find "sha256 Fingerprint=XX:..." (openssl x509 -fingerprint output) in
 * TEXT; returns a new string or NULL. */
char *provision_ca_parse_fingerprint(const char *text);
/* Does update-ca-certificates OUTPUT report exactly one certificate added? */
bool provision_ca_one_added(const char *output);
/* The CA step's verdict from what the bottle printed (OUT): the report of
 * update-ca-certificates (UPDATE_STATUS, its exit status) and the fingerprint
 * openssl read inside (trusted only when FP_STATUS is 0), compared with
 * FINGERPRINT, the host's. WHERE names the bottle ("container", "machine"),
 * HOP the hop whose CA it is. Returns the step's detail (new string); *OK
 * says whether the step passed. */
char *provision_ca_verdict(const char *out, int update_status, int fp_status,
                           const char *fingerprint, const char *hop, const char *where, bool *ok);

#endif
