// Package outbox implements the letter outbox (ports/letterprint.Outbox) on a
// directory that the print service collects from.
//
// A file appears under its final name complete or not at all: Put writes to
// a temporary name in the same directory (".<name>.<random>.tmp", which the
// print service ignores: it starts with a dot and does not end in .pdf),
// flushes it to disk, renames it to the final name and flushes the
// directory, so that neither a reader polling the directory nor a crash at
// any point leaves a partial letter under a final name. Letters carry
// initial passwords, so files are 0600 and a new directory is 0700.
//
// Layer: adapter. Imports: standard library, core/fault, ports/letterprint;
// never another adapter.
package outbox
