import { render } from 'preact';
import '../styles.css';
import { SidebarApp } from './SidebarApp';

render(<SidebarApp />, document.getElementById('app')!);
