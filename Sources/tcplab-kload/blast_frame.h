// The frame `blast` sends and `sink` counts: Ethernet (broadcast, a local source, EtherType 0x88b5,
// local experimental), a magic, a sequence number, the send time on CLOCK_MONOTONIC and on
// CLOCK_REALTIME (the clock of the receive rings' arrival stamps).
#ifndef BLAST_FRAME_H
#define BLAST_FRAME_H

#define BLAST_TYPE 0x88b5
#define FRAME_LEN 64
enum { MAGIC_AT = 14, SEQ_AT = 18, MONO_AT = 26, REAL_AT = 34, HEADER_END = 42 };

#endif
