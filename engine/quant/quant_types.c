/*
 * quant_types.c - the table of tensor types (see quant_types.h).
 */
#include "quant/quant_types.h"

#include <strings.h>

static const quant_traits traits[QT_COUNT] = {
    [QT_F32] = {"F32", 1, 4, true},
    [QT_F16] = {"F16", 1, 2, true},
    [QT_BF16] = {"BF16", 1, 2, true},
    [QT_Q4_0] = {"Q4_0", 32, 18, true},
    [QT_Q4_1] = {"Q4_1", 32, 20, true},
    [QT_Q5_0] = {"Q5_0", 32, 22, true},
    [QT_Q5_1] = {"Q5_1", 32, 24, true},
    [QT_Q8_0] = {"Q8_0", 32, 34, true},
    [QT_Q8_1] = {"Q8_1", 32, 36, false},
    [QT_Q2_K] = {"Q2_K", 256, 84, true},
    [QT_Q3_K] = {"Q3_K", 256, 110, true},
    [QT_Q4_K] = {"Q4_K", 256, 144, true},
    [QT_Q5_K] = {"Q5_K", 256, 176, true},
    [QT_Q6_K] = {"Q6_K", 256, 210, true},
    [QT_Q8_K] = {"Q8_K", 256, 292, false},
    [QT_IQ2_XXS] = {"IQ2_XXS", 256, 66, true},
    [QT_IQ2_XS] = {"IQ2_XS", 256, 74, true},
    [QT_IQ3_XXS] = {"IQ3_XXS", 256, 98, true},
    [QT_IQ1_S] = {"IQ1_S", 256, 50, true},
    [QT_IQ4_NL] = {"IQ4_NL", 32, 18, true},
    [QT_IQ3_S] = {"IQ3_S", 256, 110, true},
    [QT_IQ2_S] = {"IQ2_S", 256, 82, true},
    [QT_IQ4_XS] = {"IQ4_XS", 256, 136, true},
    [QT_IQ1_M] = {"IQ1_M", 256, 56, true},
    [QT_TQ1_0] = {"TQ1_0", 256, 54, true},
    [QT_TQ2_0] = {"TQ2_0", 256, 66, true},
    [QT_MXFP4] = {"MXFP4", 32, 17, true},
};

const quant_traits *quant_traits_of(int type)
{
    if (type < 0 || type >= QT_COUNT || !traits[type].name)
        return NULL;
    return &traits[type];
}

size_t quant_row_bytes(int type, int64_t n)
{
    const quant_traits *t = quant_traits_of(type);
    if (!t || n < 0 || n % t->block)
        return 0;
    return (size_t)(n / t->block) * (size_t)t->bytes;
}

int quant_type_by_name(const char *name)
{
    for (int i = 0; i < QT_COUNT; i++)
        if (traits[i].name && !strcasecmp(traits[i].name, name))
            return i;
    return -1;
}
