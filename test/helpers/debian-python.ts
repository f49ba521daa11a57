// Debian's own Python with its Django packages: what the Django import and DRF tests run (the
// `python3` first on PATH may be another one, without them).
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

const PACKAGES = 'python3-django python3-djangorestframework python3-django-oauth-toolkit python3-bcrypt python3-argon2';

/**
 * Why the Django tests cannot run here, or false. On a bare machine they are skipped, loudly, like
 * the browser test without Chromium; under CI=true (.ci/run installs the packages) they always
 * run, so a missing package fails them instead of hiding them.
 */
export function djangoSkip(): string | false {
  if (process.env.CI === 'true') return false;
  const probe = spawnSync(PYTHON, ['-c', 'import django, rest_framework, oauth2_provider, bcrypt, argon2'], { stdio: 'ignore' });
  return probe.status === 0 ? false : `SKIPPED: no Django in ${PYTHON} (apt-get install ${PACKAGES})`;
}
