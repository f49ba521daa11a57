-- AlterTable
ALTER TABLE "AuthorizationCode" ADD COLUMN "authTime" DATETIME;
ALTER TABLE "AuthorizationCode" ADD COLUMN "nonce" TEXT;
ALTER TABLE "AuthorizationCode" ADD COLUMN "sessionId" TEXT;

-- AlterTable
ALTER TABLE "Grant" ADD COLUMN "authTime" DATETIME;
ALTER TABLE "Grant" ADD COLUMN "sessionId" TEXT;

-- CreateTable
CREATE TABLE "Session" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "digest" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "authTime" DATETIME NOT NULL,
    "lastSeenAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "endedAt" DATETIME,
    CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Consent" (
    "userId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("userId", "clientId"),
    CONSTRAINT "Consent_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Consent_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Client" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "secretDigest" TEXT,
    "grants" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "redirectUris" TEXT NOT NULL DEFAULT '',
    "origins" TEXT NOT NULL DEFAULT '',
    "postLogoutRedirectUris" TEXT NOT NULL DEFAULT '',
    "consent" BOOLEAN NOT NULL DEFAULT false,
    "tokenFormat" TEXT NOT NULL DEFAULT 'opaque',
    "accessTtl" INTEGER NOT NULL DEFAULT 300,
    "refreshTtl" INTEGER NOT NULL DEFAULT 86400,
    "maxSession" INTEGER NOT NULL DEFAULT 2592000,
    "audience" TEXT,
    "canIntrospect" BOOLEAN NOT NULL DEFAULT false,
    "browser" BOOLEAN NOT NULL DEFAULT false,
    "jwks" TEXT,
    "jwksUri" TEXT,
    "admin" BOOLEAN NOT NULL DEFAULT false,
    "previousSecretDigest" TEXT,
    "previousSecretExpiresAt" DATETIME,
    "tokensValidAfter" DATETIME,
    "registrationTokenDigest" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_Client" ("accessTtl", "admin", "audience", "browser", "canIntrospect", "createdAt", "grants", "id", "jwks", "jwksUri", "maxSession", "name", "origins", "previousSecretDigest", "previousSecretExpiresAt", "redirectUris", "refreshTtl", "registrationTokenDigest", "scopes", "secretDigest", "tokenFormat", "tokensValidAfter", "updatedAt") SELECT "accessTtl", "admin", "audience", "browser", "canIntrospect", "createdAt", "grants", "id", "jwks", "jwksUri", "maxSession", "name", "origins", "previousSecretDigest", "previousSecretExpiresAt", "redirectUris", "refreshTtl", "registrationTokenDigest", "scopes", "secretDigest", "tokenFormat", "tokensValidAfter", "updatedAt" FROM "Client";
DROP TABLE "Client";
ALTER TABLE "new_Client" RENAME TO "Client";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "Session_digest_key" ON "Session"("digest");

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Session"("userId");

-- CreateIndex
CREATE INDEX "Session_expiresAt_idx" ON "Session"("expiresAt");

-- CreateIndex
CREATE INDEX "Consent_clientId_idx" ON "Consent"("clientId");

-- CreateIndex
CREATE INDEX "Grant_sessionId_idx" ON "Grant"("sessionId");
