/*
 * RFC 793's ISN clock, written against the C ABI directly (no Swift): "a (possibly fictitious) 32 bit
 * clock whose low order bit is incremented roughly every 4 microseconds", so the ISN cycles every 4.55
 * hours and, RFC 793 hoped, outlives any old duplicate segment of a previous incarnation. It protects
 * against old duplicates, not against attackers: anyone who knows the time knows the ISN (RFC 6528).
 */
#include <stdlib.h>
#include <stdio.h>
#include "tcplab_plugin.h"

typedef struct rfc793_isn {
    int64_t tick_ns;
    uint32_t offset;
} rfc793_isn;

static const tcplab_param_spec params[] = {
    {.name = "tick", .type = TCPLAB_PARAM_DURATION, .default_value = "4us", .min = 1, .max = 1000000000,
     .help = "how often the clock's low-order bit increments (RFC 793: 4 us)"},
    {.name = "offset", .type = TCPLAB_PARAM_INT, .default_value = "0", .min = 0, .max = 4294967295LL,
     .help = "the clock's value at time 0"},
};

static int32_t create(const tcplab_plugin *plugin, const tcplab_host *host, const tcplab_param_value *values,
                      uint32_t count, void **instance, char *error, size_t error_capacity) {
    (void)plugin;
    (void)host;
    (void)count;
    rfc793_isn *self = malloc(sizeof *self);
    if (!self) {
        snprintf(error, error_capacity, "out of memory");
        return 1;
    }
    self->tick_ns = values[0].integer; /* values[i] belongs to params[i], range-checked */
    self->offset = (uint32_t)values[1].integer;
    *instance = self;
    return 0;
}

static void destroy(void *instance) { free(instance); }

static uint32_t initial_sequence_number(void *instance, const tcplab_tuple *tuple, int64_t now_ns) {
    (void)tuple; /* the same clock for every connection: that is the point */
    const rfc793_isn *self = instance;
    return self->offset + (uint32_t)(now_ns / self->tick_ns);
}

static uint32_t timestamp_offset(void *instance, const tcplab_tuple *tuple, int64_t now_ns) {
    (void)instance;
    (void)tuple;
    (void)now_ns;
    return 0; /* RFC 793 predates timestamps */
}

static const tcplab_isn_ops ops = {
    .initial_sequence_number = initial_sequence_number,
    .timestamp_offset = timestamp_offset,
};

static const tcplab_plugin plugin = {
    .abi_version = TCPLAB_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tcplab_plugin),
    .kind = TCPLAB_KIND_ISN,
    .name = "rfc793",
    .summary = "RFC 793's ISN clock: +1 every 4 us, the same for every 4-tuple (predictable from the time alone)",
    .params = params,
    .param_count = sizeof params / sizeof params[0],
    .create = create,
    .destroy = destroy,
    .isn = &ops,
};

TCPLAB_EXPORT const tcplab_plugin *tcplab_plugin_v1(void) { return &plugin; }
