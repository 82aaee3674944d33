/* pickle_internal.h: pickle's opcodes, as CPython's Lib/pickletools.py lists them (internal). */
#ifndef MP_PICKLE_INTERNAL_H
#define MP_PICKLE_INTERNAL_H

/* Each opcode is one byte; most are printable ASCII, from when pickles were text (protocol 0). */
enum {
	/* What this codec reads and writes. */
	OP_MARK = '(',             /* remember where the stack is: TUPLE, APPENDS and SETITEMS take what follows */
	OP_STOP = '.',             /* the end: the value on top of the stack is the result */
	OP_NONE = 'N',
	OP_NEWTRUE = 0x88,
	OP_NEWFALSE = 0x89,
	OP_BININT1 = 'K',          /* 1-byte unsigned int */
	OP_BININT2 = 'M',          /* 2-byte unsigned int, little-endian */
	OP_BININT = 'J',           /* 4-byte signed int, little-endian */
	OP_LONG1 = 0x8a,           /* 1-byte length, then a little-endian two's complement integer */
	OP_LONG4 = 0x8b,           /* the same with a 4-byte length */
	OP_BINFLOAT = 'G',         /* 8-byte IEEE double, big-endian */
	OP_SHORT_BINUNICODE = 0x8c, /* 1-byte length, then UTF-8 */
	OP_BINUNICODE = 'X',       /* 4-byte length */
	OP_BINUNICODE8 = 0x8d,     /* 8-byte length */
	OP_SHORT_BINBYTES = 'C',
	OP_BINBYTES = 'B',
	OP_BINBYTES8 = 0x8e,
	OP_EMPTY_TUPLE = ')',
	OP_TUPLE1 = 0x85,
	OP_TUPLE2 = 0x86,
	OP_TUPLE3 = 0x87,
	OP_TUPLE = 't',            /* the items since the last MARK */
	OP_EMPTY_LIST = ']',
	OP_APPEND = 'a',
	OP_APPENDS = 'e',
	OP_EMPTY_DICT = '}',
	OP_SETITEM = 's',
	OP_SETITEMS = 'u',
	OP_MEMOIZE = 0x94,         /* memo[number of memo entries] = top of the stack */
	OP_BINPUT = 'q',           /* memo[1-byte index] = top */
	OP_LONG_BINPUT = 'r',      /* memo[4-byte index] = top */
	OP_BINGET = 'h',           /* push memo[1-byte index] */
	OP_LONG_BINGET = 'j',      /* push memo[4-byte index] */
	OP_PROTO = 0x80,           /* 1 byte: the protocol */
	OP_FRAME = 0x95,           /* 8-byte length of the frame that follows: a hint for buffering */

	/* What names or calls code: refused. */
	OP_GLOBAL = 'c',           /* push the object module.name (two text lines) */
	OP_STACK_GLOBAL = 0x93,    /* the same, module and name from the stack */
	OP_REDUCE = 'R',           /* call a callable with a tuple of arguments */
	OP_BUILD = 'b',            /* call __setstate__, or update __dict__ */
	OP_INST = 'i',
	OP_OBJ = 'o',
	OP_NEWOBJ = 0x81,          /* cls.__new__(cls, *args) */
	OP_NEWOBJ_EX = 0x92,
	OP_EXT1 = 0x82,            /* a class from the copyreg extension registry */
	OP_EXT2 = 0x83,
	OP_EXT4 = 0x84,
	OP_PERSID = 'P',           /* ask the unpickler's persistent_load() for an object */
	OP_BINPERSID = 'Q',
};

/* How the decoder treats an opcode. */
enum op_class {
	OPC_UNKNOWN, /* no opcode at all */
	OPC_DATA,    /* read by this codec */
	OPC_CODE,    /* names or calls code: refused with -EPERM */
	OPC_OTHER,   /* data this codec does not carry: refused with -ENOTSUP */
};

/* The class of @opcode (a byte). */
enum op_class mp__pickle_op_class(int opcode);

#endif
