# What deploy/k8s needs: configmap.yaml takes project, spanner_database and
# bucket; serviceaccount.yaml takes vigild_service_account.

output "project" {
  value = var.project
}

output "spanner_database" {
  description = "vigild --spanner"
  value       = "projects/${var.project}/instances/${google_spanner_instance.log.name}/databases/${google_spanner_database.log.name}"
}

output "bucket" {
  description = "vigild --gcs-bucket"
  value       = google_storage_bucket.log.name
}

output "vigild_service_account" {
  description = "The iam.gke.io/gcp-service-account annotation of the vigild Kubernetes service account"
  value       = google_service_account.vigild.email
}

output "public_url" {
  description = "Where the tlog-tiles read API is served from GCS, with public_read"
  value       = var.public_read ? "https://storage.googleapis.com/${google_storage_bucket.log.name}/" : null
}
