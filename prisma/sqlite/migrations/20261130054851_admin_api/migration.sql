-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "at" DATETIME NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "details" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "InitialAccessToken" (
    "digest" TEXT NOT NULL PRIMARY KEY,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    "maxUses" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0
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
INSERT INTO "new_Client" ("accessTtl", "audience", "browser", "canIntrospect", "createdAt", "grants", "id", "jwks", "jwksUri", "maxSession", "name", "origins", "redirectUris", "refreshTtl", "scopes", "secretDigest", "tokenFormat") SELECT "accessTtl", "audience", "browser", "canIntrospect", "createdAt", "grants", "id", "jwks", "jwksUri", "maxSession", "name", "origins", "redirectUris", "refreshTtl", "scopes", "secretDigest", "tokenFormat" FROM "Client";
DROP TABLE "Client";
ALTER TABLE "new_Client" RENAME TO "Client";
CREATE TABLE "new_User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "username" TEXT NOT NULL,
    "email" TEXT,
    "name" TEXT,
    "emailVerified" BOOLEAN NOT NULL DEFAULT false,
    "passwordHash" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "roles" TEXT NOT NULL DEFAULT '[]',
    "groups" TEXT NOT NULL DEFAULT '[]',
    "tokensValidAfter" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_User" ("active", "createdAt", "email", "id", "passwordHash", "tokensValidAfter", "updatedAt", "username") SELECT "active", "createdAt", "email", "id", "passwordHash", "tokensValidAfter", "updatedAt", "username" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_username_key" ON "User"("username");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "AuditEntry_at_idx" ON "AuditEntry"("at");

-- CreateIndex
CREATE INDEX "InitialAccessToken_expiresAt_idx" ON "InitialAccessToken"("expiresAt");
