DROP TABLE import_marks;
