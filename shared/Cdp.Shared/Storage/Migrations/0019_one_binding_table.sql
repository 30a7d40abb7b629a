-- 0004's virtual_number_binding was a placeholder nothing wrote; 0017's virtual_binding holds the bindings.
drop table virtual_number_binding;
