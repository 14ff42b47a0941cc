package backfill

import "unsafe"

// eface is the layout of an interface value without methods (any).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// bytesType is the type word of an any holding a []byte.
var bytesType = func() unsafe.Pointer {
	var x any = []byte(nil)
	return (*eface)(unsafe.Pointer(&x)).typ
}()

// bytesIface returns the any holding *p, sharing p as its data word (what
// any(*p) builds after copying *p to the heap). *p must never change
// afterwards: interface values are immutable.
func bytesIface(p *[]byte) (v any) {
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: bytesType, data: unsafe.Pointer(p)}
	return v
}
