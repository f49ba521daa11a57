-- CreateTable
CREATE TABLE "ImportedRecord" (
    "source" TEXT NOT NULL PRIMARY KEY,
    "targetId" TEXT NOT NULL,
    "label" TEXT,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
