variable "project" {
  description = "The GCP project that holds the log."
  type        = string
}

variable "region" {
  description = "The region of the Spanner instance (regional-REGION) and the GCS bucket."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Base name of the Spanner instance and database, the service account and (after the project) the bucket."
  type        = string
  default     = "vigil"
}

variable "spanner_processing_units" {
  description = "Spanner capacity. Tessera's GCP driver was measured at about 1,500 writes/s on the smallest instance, 100 units."
  type        = number
  default     = 100
}

variable "public_read" {
  description = "Let anyone read the bucket (tiles, checkpoint, entry bundles and SBOM blobs), to serve the tlog-tiles API from GCS or a CDN in front of it. With false, only vigild reads it and serves the same paths itself."
  type        = bool
  default     = false
}

variable "k8s_namespace" {
  description = "Namespace of vigild's Kubernetes service account (deploy/k8s), for Workload Identity."
  type        = string
  default     = "vigil"
}

variable "k8s_service_account" {
  description = "Name of vigild's Kubernetes service account (deploy/k8s)."
  type        = string
  default     = "vigild"
}

variable "deletion_protection" {
  description = "Refuse to destroy the database and the bucket. A transparency log is forever: leave it on outside tests."
  type        = bool
  default     = true
}

variable "service_account_id" {
  description = "Account id of the Google service account vigild runs as."
  type        = string
  default     = "vigild"
}
