/* pickle_ops.c: the name of every opcode of protocols 0 to 5, and what the decoder makes of it. */
#include "pickle_internal.h"

#include <mp.h>

static const struct {
	const char *name;
	enum op_class class;
} ops[256] = {
	['('] = { "MARK", OPC_DATA },
	['.'] = { "STOP", OPC_DATA },
	['N'] = { "NONE", OPC_DATA },
	[0x88] = { "NEWTRUE", OPC_DATA },
	[0x89] = { "NEWFALSE", OPC_DATA },
	['K'] = { "BININT1", OPC_DATA },
	['M'] = { "BININT2", OPC_DATA },
	['J'] = { "BININT", OPC_DATA },
	[0x8a] = { "LONG1", OPC_DATA },
	[0x8b] = { "LONG4", OPC_DATA },
	['G'] = { "BINFLOAT", OPC_DATA },
	[0x8c] = { "SHORT_BINUNICODE", OPC_DATA },
	['X'] = { "BINUNICODE", OPC_DATA },
	[0x8d] = { "BINUNICODE8", OPC_DATA },
	['C'] = { "SHORT_BINBYTES", OPC_DATA },
	['B'] = { "BINBYTES", OPC_DATA },
	[0x8e] = { "BINBYTES8", OPC_DATA },
	[')'] = { "EMPTY_TUPLE", OPC_DATA },
	[0x85] = { "TUPLE1", OPC_DATA },
	[0x86] = { "TUPLE2", OPC_DATA },
	[0x87] = { "TUPLE3", OPC_DATA },
	['t'] = { "TUPLE", OPC_DATA },
	[']'] = { "EMPTY_LIST", OPC_DATA },
	['a'] = { "APPEND", OPC_DATA },
	['e'] = { "APPENDS", OPC_DATA },
	['}'] = { "EMPTY_DICT", OPC_DATA },
	['s'] = { "SETITEM", OPC_DATA },
	['u'] = { "SETITEMS", OPC_DATA },
	[0x94] = { "MEMOIZE", OPC_DATA },
	['q'] = { "BINPUT", OPC_DATA },
	['r'] = { "LONG_BINPUT", OPC_DATA },
	['h'] = { "BINGET", OPC_DATA },
	['j'] = { "LONG_BINGET", OPC_DATA },
	[0x80] = { "PROTO", OPC_DATA },
	[0x95] = { "FRAME", OPC_DATA },

	['c'] = { "GLOBAL", OPC_CODE },
	[0x93] = { "STACK_GLOBAL", OPC_CODE },
	['R'] = { "REDUCE", OPC_CODE },
	['b'] = { "BUILD", OPC_CODE },
	['i'] = { "INST", OPC_CODE },
	['o'] = { "OBJ", OPC_CODE },
	[0x81] = { "NEWOBJ", OPC_CODE },
	[0x92] = { "NEWOBJ_EX", OPC_CODE },
	[0x82] = { "EXT1", OPC_CODE },
	[0x83] = { "EXT2", OPC_CODE },
	[0x84] = { "EXT4", OPC_CODE },
	['P'] = { "PERSID", OPC_CODE },
	['Q'] = { "BINPERSID", OPC_CODE },

	/* Protocol 0's text forms, Python 2's str, the stack's own moves, sets and buffers. */
	['0'] = { "POP", OPC_OTHER },
	['1'] = { "POP_MARK", OPC_OTHER },
	['2'] = { "DUP", OPC_OTHER },
	['F'] = { "FLOAT", OPC_OTHER },
	['I'] = { "INT", OPC_OTHER },
	['L'] = { "LONG", OPC_OTHER },
	['S'] = { "STRING", OPC_OTHER },
	['T'] = { "BINSTRING", OPC_OTHER },
	['U'] = { "SHORT_BINSTRING", OPC_OTHER },
	['V'] = { "UNICODE", OPC_OTHER },
	['d'] = { "DICT", OPC_OTHER },
	['l'] = { "LIST", OPC_OTHER },
	['g'] = { "GET", OPC_OTHER },
	['p'] = { "PUT", OPC_OTHER },
	[0x8f] = { "EMPTY_SET", OPC_OTHER },
	[0x90] = { "ADDITEMS", OPC_OTHER },
	[0x91] = { "FROZENSET", OPC_OTHER },
	[0x96] = { "BYTEARRAY8", OPC_OTHER },
	[0x97] = { "NEXT_BUFFER", OPC_OTHER },
	[0x98] = { "READONLY_BUFFER", OPC_OTHER },
};

const char *mp_pickle_opcode_name(int opcode)
{
	return opcode >= 0 && opcode < 256 ? ops[opcode].name : NULL;
}

enum op_class mp__pickle_op_class(int opcode)
{
	return opcode >= 0 && opcode < 256 ? ops[opcode].class : OPC_UNKNOWN;
}
