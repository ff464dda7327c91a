"""`/admin/jobs`: the job explorer."""
