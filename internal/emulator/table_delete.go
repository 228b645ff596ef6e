package emulator

import (
	"fmt"
	"slices"
)

// DeleteTable deletes an unmanaged custom table "outside Terraform", as a
// maker would in the portal: its definition and its records go, its audit
// history stays in the audit trail (rows whose objecttypecode names a table
// the environment no longer has). A system or managed table, or an unknown
// one, is an error.
func (s *Server) DeleteTable(logicalName string) error {
	s.sim.lock()
	defer s.sim.unlock()
	store := s.meta.store
	e := store.entities[logicalName]
	switch {
	case e == nil:
		return fmt.Errorf("emulator: no table %q", logicalName)
	case !readBool(e.props, "IsCustomEntity") || readBool(e.props, "IsManaged"):
		return fmt.Errorf("emulator: table %q is not an unmanaged custom table and cannot be deleted", logicalName)
	}
	delete(store.entities, logicalName)
	delete(store.byID, e.metadataID)
	store.names = slices.DeleteFunc(store.names, func(n string) bool { return n == logicalName })
	delete(s.sim.records, logicalName)
	return nil
}
