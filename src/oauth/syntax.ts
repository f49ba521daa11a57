// Character sets of RFC 6749 Appendix A that requests are checked against.

/** VSCHAR: what client ids, secrets, codes and tokens are made of. */
export const VSCHAR = /^[\x20-\x7E]+$/;
