// Character sets of RFC 6749 Appendix A that requests are checked against, and the parameter names
// of client authentication (RFC 6749 §2.3.1, RFC 7521 §4.2) that every authenticating endpoint reads.

/** client_secret_basic sends none of them; client_secret_post the first two; private_key_jwt the last two. */
export const CLIENT_AUTH_PARAMETERS = ['client_id', 'client_secret', 'client_assertion_type', 'client_assertion'] as const;

/** VSCHAR: what client ids, secrets, codes and tokens are made of. */
export const VSCHAR = /^[\x20-\x7E]+$/;
