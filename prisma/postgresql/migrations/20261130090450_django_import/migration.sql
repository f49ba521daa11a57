-- CreateTable
CREATE TABLE "ImportedRecord" (
    "source" TEXT NOT NULL,
    "targetId" TEXT NOT NULL,
    "label" TEXT,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ImportedRecord_pkey" PRIMARY KEY ("source")
);
