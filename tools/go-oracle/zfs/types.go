// Package zfs declares the two zfs types that appear in ByteStreamRPC messages, with the
// names, field names and field types of zrepl's zfs package (May 2017), so that Go's
// encoding/json error texts name them exactly as the original did.
package zfs

type DatasetPath []string

type VersionType string

type FilesystemVersion struct {
	Type      VersionType
	Name      string
	Guid      uint64
	CreateTXG uint64
}
